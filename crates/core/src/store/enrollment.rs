//! SQL for the enrollment row and the roster.

use hearth_protocol::{LearnerId, PublicKey};
use rusqlite::{OptionalExtension, params};

use super::device::uuid_from;
use super::{Store, Tx};
use crate::error::{CoreError, Result};

/// What the device keeps from its enrollment with a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrollment {
    pub service_url: String,
    pub credential: String,
    pub credential_expires_ms: i64,
    pub org_id: String,
    pub org_name: String,
    /// The learner a personal device belongs to; `None` for a shared kiosk.
    pub owner: Option<LearnerId>,
    pub anchor_key: PublicKey,
    pub publisher_keys: Vec<PublicKey>,
    pub enrolled_ms: i64,
}

/// One person from the organisation's roster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterPerson {
    pub id: LearnerId,
    pub name: String,
    /// `learner` or `trainer`.
    pub role: String,
    pub pin_hash: Option<String>,
    /// The learner's current sign-in card's verifier (kiosks; `hearth_protocol::card`).
    pub card: Option<hearth_protocol::wire::CardVerifier>,
}

impl Tx<'_> {
    pub fn save_enrollment(&mut self, e: &Enrollment) -> Result<()> {
        let keys: Vec<u8> = e.publisher_keys.iter().flat_map(|k| k.0).collect();
        self.tx.execute(
            "INSERT OR REPLACE INTO enrollment (singleton, service_url, credential, credential_expires_ms,
             org_id, org_name, owner, anchor_key, publisher_keys, enrolled_ms)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                e.service_url,
                e.credential,
                e.credential_expires_ms,
                e.org_id,
                e.org_name,
                e.owner.map(|o| o.0.as_bytes().to_vec()),
                e.anchor_key.as_bytes(),
                keys,
                e.enrolled_ms
            ],
        )?;
        self.changes.device = true;
        Ok(())
    }

    /// Adds or updates roster people (local profiles keep their names).
    pub fn upsert_roster(&mut self, people: &[RosterPerson], now_ms: i64) -> Result<()> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO learners (id, display_name, role, created_ms, source, pin_hash,
                                   card_serial, card_verifier)
             VALUES (?1, ?2, ?3, ?4, 'roster', ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, role = excluded.role,
                 source = 'roster', pin_hash = excluded.pin_hash,
                 card_serial = excluded.card_serial, card_verifier = excluded.card_verifier",
        )?;
        for p in people {
            if !matches!(p.role.as_str(), "learner" | "trainer") {
                return Err(CoreError::InvalidInput(format!(
                    "unknown role {:?} in the roster",
                    p.role
                )));
            }
            stmt.execute(params![
                p.id.0.as_bytes(),
                p.name,
                p.role,
                now_ms,
                p.pin_hash,
                p.card.as_ref().map(|c| c.serial),
                p.card.as_ref().map(|c| c.verifier.as_str()),
            ])?;
        }
        self.changes.learners = true;
        Ok(())
    }

    /// Forgets what this device holds of roster people the service no longer sends (a kiosk
    /// whose classes changed, a learner moved to another class): their PIN verifier and classes
    /// go at once, so a copy of this database gives nothing of them to an offline attacker;
    /// the row itself goes too unless something recorded here names them (their receipts and
    /// study state stay, under a name with no way to sign in). Returns how many were retired.
    pub fn retire_roster_people(&mut self, keep: &[RosterPerson]) -> Result<usize> {
        let keep: std::collections::HashSet<[u8; 16]> =
            keep.iter().map(|p| *p.id.0.as_bytes()).collect();
        let gone: Vec<Vec<u8>> = self
            .tx
            .prepare("SELECT id FROM learners WHERE source = 'roster'")?
            .query_map([], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .filter(|id| <[u8; 16]>::try_from(id.as_slice()).map_or(true, |b| !keep.contains(&b)))
            .collect();
        for id in &gone {
            self.tx
                .execute("DELETE FROM roster_classes WHERE person = ?1", [id])?;
            self.tx.execute(
                "UPDATE learners SET pin_hash = NULL, card_serial = NULL, card_verifier = NULL
                     WHERE id = ?1",
                [id],
            )?;
            self.tx.execute(
                "DELETE FROM learners WHERE id = ?1
                 AND NOT EXISTS (SELECT 1 FROM receipts WHERE learner = ?1)
                 AND NOT EXISTS (SELECT 1 FROM media_progress WHERE learner = ?1)
                 AND NOT EXISTS (SELECT 1 FROM quiz_answers WHERE learner = ?1)
                 AND NOT EXISTS (SELECT 1 FROM exam_attempts WHERE learner = ?1)
                 AND NOT EXISTS (SELECT 1 FROM learner_records WHERE learner = ?1)",
                [id],
            )?;
        }
        if !gone.is_empty() {
            self.changes.learners = true;
        }
        Ok(gone.len())
    }
}

impl Store {
    pub fn enrollment(&self) -> Result<Option<Enrollment>> {
        let row = self
            .conn
            .query_row(
                "SELECT service_url, credential, credential_expires_ms, org_id, org_name, owner,
                        anchor_key, publisher_keys, enrolled_ms FROM enrollment",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<Vec<u8>>>(5)?,
                        r.get::<_, Vec<u8>>(6)?,
                        r.get::<_, Vec<u8>>(7)?,
                        r.get::<_, i64>(8)?,
                    ))
                },
            )
            .optional()?;
        let Some((
            service_url,
            credential,
            credential_expires_ms,
            org_id,
            org_name,
            owner,
            anchor_key,
            keys,
            enrolled_ms,
        )) = row
        else {
            return Ok(None);
        };
        let bad = |what: &str| CoreError::LedgerBroken(format!("enrollment row: bad {what}"));
        if keys.len() % 32 != 0 {
            return Err(bad("publisher keys"));
        }
        Ok(Some(Enrollment {
            service_url,
            credential,
            credential_expires_ms,
            org_id,
            org_name,
            owner: owner
                .map(|o| uuid_from(&o).map(LearnerId).ok_or_else(|| bad("owner")))
                .transpose()?,
            anchor_key: PublicKey::from_slice(&anchor_key).ok_or_else(|| bad("anchor key"))?,
            publisher_keys: keys.chunks(32).filter_map(PublicKey::from_slice).collect(),
            enrolled_ms,
        }))
    }
}

impl Store {
    /// One person as this device knows them: name, role and PIN verifier (roster people), or
    /// `None` when the id is not on this device.
    pub fn roster_person(&self, id: LearnerId) -> Result<Option<RosterPerson>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT display_name, role, pin_hash, card_serial, card_verifier
                 FROM learners WHERE id = ?1",
            )?
            .query_row([id.0.as_bytes()], |r| {
                let serial: Option<u32> = r.get(3)?;
                let verifier: Option<String> = r.get(4)?;
                Ok(RosterPerson {
                    id,
                    name: r.get(0)?,
                    role: r.get(1)?,
                    pin_hash: r.get(2)?,
                    card: serial.zip(verifier).map(|(serial, verifier)| {
                        hearth_protocol::wire::CardVerifier { serial, verifier }
                    }),
                })
            })
            .optional()?)
    }
}
