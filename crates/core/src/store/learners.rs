//! SQL for learner profiles.

use hearth_protocol::LearnerId;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::device::uuid_from;
use super::{Store, Tx};
use crate::error::{CoreError, Result};

/// A person who studies on this device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Learner {
    pub id: LearnerId,
    pub display_name: String,
    pub created_ms: i64,
}

impl Tx<'_> {
    pub fn insert_learner(&mut self, learner: &Learner) -> Result<()> {
        self.tx.execute(
            "INSERT INTO learners (id, display_name, created_ms) VALUES (?1, ?2, ?3)",
            params![
                learner.id.0.as_bytes(),
                learner.display_name,
                learner.created_ms
            ],
        )?;
        self.changes.learners = true;
        Ok(())
    }

    pub fn learner_exists(&self, id: LearnerId) -> Result<bool> {
        Ok(self
            .tx
            .query_row(
                "SELECT 1 FROM learners WHERE id = ?1",
                [id.0.as_bytes()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

impl Store {
    pub fn learners(&self) -> Result<Vec<Learner>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, display_name, created_ms FROM learners ORDER BY created_ms, rowid",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?, r.get(2)?)))?;
        rows.map(|row| {
            let (id, display_name, created_ms) = row?;
            let id = uuid_from(&id)
                .ok_or_else(|| CoreError::LedgerBroken("learner row: bad id".into()))?;
            Ok(Learner {
                id: LearnerId(id),
                display_name,
                created_ms,
            })
        })
        .collect()
    }
}
