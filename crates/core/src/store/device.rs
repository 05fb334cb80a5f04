//! SQL for the `device` row.

use hearth_protocol::{AnchorRef, DeviceId, PublicKey};
use rusqlite::{OptionalExtension, params};

use super::{Store, Tx};
use crate::error::{CoreError, Result};

/// This installation, as stored.
#[derive(Clone, Debug)]
pub(crate) struct DeviceRow {
    pub device_id: DeviceId,
    pub public_key: PublicKey,
    pub created_ms: i64,
    pub acked_seq: u64,
    pub anchor: Option<AnchorRef>,
}

impl Tx<'_> {
    pub fn insert_device(
        &mut self,
        device_id: DeviceId,
        public_key: PublicKey,
        created_ms: i64,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO device (singleton, device_id, public_key, created_ms, last_run) VALUES (1, ?1, ?2, ?3, 0)",
            params![device_id.0.as_bytes(), public_key.as_bytes(), created_ms],
        )?;
        self.changes.device = true;
        Ok(())
    }

    /// Counts one more app run and returns its number.
    pub fn begin_run(&mut self) -> Result<u32> {
        let run: i64 = self.tx.query_row(
            "UPDATE device SET last_run = last_run + 1 RETURNING last_run",
            [],
            |r| r.get(0),
        )?;
        self.changes.device = true;
        u32::try_from(run).map_err(|_| CoreError::InvalidInput("run counter overflow".into()))
    }

    pub fn set_acked_seq(&mut self, seq: u64) -> Result<()> {
        self.tx
            .execute("UPDATE device SET acked_seq = ?1", [seq as i64])?;
        self.changes.device = true;
        self.changes.receipts = true;
        Ok(())
    }

    pub fn set_anchor(&mut self, anchor: &AnchorRef) -> Result<()> {
        let bytes =
            postcard::to_allocvec(anchor).map_err(|e| CoreError::InvalidInput(e.to_string()))?;
        self.tx.execute("UPDATE device SET anchor = ?1", [bytes])?;
        self.changes.device = true;
        Ok(())
    }

    pub fn device(&self) -> Result<DeviceRow> {
        read_device(&self.tx)
    }
}

impl Store {
    pub fn device(&self) -> Result<Option<DeviceRow>> {
        let exists: Option<i64> = self
            .conn
            .query_row("SELECT 1 FROM device", [], |r| r.get(0))
            .optional()?;
        exists.map(|_| read_device(&self.conn)).transpose()
    }
}

fn read_device(conn: &rusqlite::Connection) -> Result<DeviceRow> {
    let (id, key, created_ms, acked, anchor): (Vec<u8>, Vec<u8>, i64, i64, Option<Vec<u8>>) = conn
        .query_row(
            "SELECT device_id, public_key, created_ms, acked_seq, anchor FROM device",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
    let bad = |what: &str| CoreError::LedgerBroken(format!("device row: bad {what}"));
    Ok(DeviceRow {
        device_id: DeviceId(uuid_from(&id).ok_or_else(|| bad("device id"))?),
        public_key: PublicKey::from_slice(&key).ok_or_else(|| bad("public key"))?,
        created_ms,
        acked_seq: u64::try_from(acked).map_err(|_| bad("acknowledged position"))?,
        anchor: anchor
            .map(|b| postcard::from_bytes(&b))
            .transpose()
            .map_err(|_| bad("time anchor"))?,
    })
}

pub(super) fn uuid_from(bytes: &[u8]) -> Option<uuid::Uuid> {
    uuid::Uuid::from_slice(bytes).ok()
}
