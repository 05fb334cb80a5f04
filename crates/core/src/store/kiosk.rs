//! SQL for kiosk mode (schema 6): the classes of the roster's people, the sign-in list, and the
//! checks trainer actions need.

use hearth_protocol::wire::ClassRef;
use hearth_protocol::{ClassId, CourseId, ExamId, LearnerId};
use rusqlite::{OptionalExtension, params};

use super::device::uuid_from;
use super::{Store, Tx};
use crate::error::{CoreError, Result};

/// The classes of one roster person: a learner's class (none or one), or the classes a trainer
/// runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterClasses {
    pub person: LearnerId,
    pub classes: Vec<ClassRef>,
}

/// One roster person for the kiosk's sign-in list: never the PIN verifier, only whether there
/// is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KioskPersonRow {
    pub id: LearnerId,
    pub name: String,
    /// `learner` or `trainer`.
    pub role: String,
    pub has_pin: bool,
    pub classes: Vec<ClassRef>,
}

/// The longest class name kept (characters); a longer one from the service is cut.
const MAX_CLASS_NAME: usize = 200;

impl Tx<'_> {
    /// Replaces every kept class with `list` (the service's roster names them all each time).
    /// Classes of people not on this device are skipped: nobody could open or attend them here.
    pub fn replace_roster_classes(&mut self, list: &[RosterClasses]) -> Result<()> {
        self.tx.execute("DELETE FROM roster_classes", [])?;
        let mut known = self
            .tx
            .prepare_cached("SELECT 1 FROM learners WHERE id = ?1")?;
        let mut insert = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO roster_classes (person, class_id, class_name)
             VALUES (?1, ?2, ?3)",
        )?;
        for p in list {
            if !known.exists([p.person.0.as_bytes()])? {
                tracing::debug!(person = %p.person, "classes of a person not on this device skipped");
                continue;
            }
            for c in &p.classes {
                let name: String = c.name.chars().take(MAX_CLASS_NAME).collect();
                insert.execute(params![p.person.0.as_bytes(), c.id.to_string(), name])?;
            }
        }
        self.changes.learners = true;
        Ok(())
    }
}

impl Store {
    /// The roster's people (those that came from the service), by name.
    pub fn kiosk_people(&self) -> Result<Vec<KioskPersonRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, display_name, role, pin_hash IS NOT NULL FROM learners
             WHERE source = 'roster' ORDER BY display_name, id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, bool>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, name, role, has_pin)| {
                let id = uuid_from(&id)
                    .map(LearnerId)
                    .ok_or_else(|| CoreError::LedgerBroken("learner row: bad id".into()))?;
                Ok(KioskPersonRow {
                    classes: self.person_classes(id)?,
                    id,
                    name,
                    role,
                    has_pin,
                })
            })
            .collect()
    }

    /// The classes kept for `person`, by name.
    pub fn person_classes(&self, person: LearnerId) -> Result<Vec<ClassRef>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT class_id, class_name FROM roster_classes WHERE person = ?1
             ORDER BY class_name, class_id",
        )?;
        let rows = stmt
            .query_map([person.0.as_bytes()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, name)| {
                let id = uuid::Uuid::parse_str(&id)
                    .map(ClassId)
                    .map_err(|_| CoreError::LedgerBroken("roster class row: bad id".into()))?;
                Ok(ClassRef { id, name })
            })
            .collect()
    }

    /// The name of `class` when `person` belongs to it or runs it.
    pub fn class_of_person(&self, person: LearnerId, class: ClassId) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT class_name FROM roster_classes WHERE person = ?1 AND class_id = ?2",
            )?
            .query_row(params![person.0.as_bytes(), class.to_string()], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Whether an installed course version has this exam.
    pub fn exam_installed(&self, course: &CourseId, version: u32, exam: &ExamId) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM exams WHERE course = ?1 AND version = ?2 AND exam = ?3")?
            .exists(params![course.as_str(), version, exam.as_str()])?)
    }
}
