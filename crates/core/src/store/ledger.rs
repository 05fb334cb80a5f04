//! SQL for the receipt ledger and its outbox.

use hearth_protocol::{ChainHead, LearnerId, ReceiptId, VerifiedReceipt};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::device::uuid_from;
use super::{Store, Tx};
use crate::error::{CoreError, Result};

/// One row of the receipt list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptSummary {
    pub seq: u64,
    pub id: ReceiptId,
    pub learner: LearnerId,
    pub kind: String,
    pub wall_ms: i64,
    /// The service has acknowledged it.
    pub acknowledged: bool,
}

/// A receipt waiting to be sent: its position and exact envelope bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxItem {
    pub seq: u64,
    pub envelope: Vec<u8>,
}

/// Where the ledger stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerStatus {
    /// The last receipt written (0: none).
    pub head_seq: u64,
    /// The service acknowledged the chain up to here.
    pub acked_seq: u64,
    /// Receipts not yet acknowledged.
    pub pending: u64,
}

fn head(conn: &rusqlite::Connection) -> Result<ChainHead> {
    let row: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT seq, id FROM receipts ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        None => Ok(ChainHead::EMPTY),
        Some((seq, id)) => Ok(ChainHead {
            seq: seq as u64,
            id: ReceiptId::from_slice(&id)
                .ok_or_else(|| CoreError::LedgerBroken(format!("receipt {seq}: bad id")))?,
        }),
    }
}

impl Tx<'_> {
    pub fn head(&self) -> Result<ChainHead> {
        head(&self.tx)
    }

    pub fn insert_receipt(&mut self, r: &VerifiedReceipt) -> Result<()> {
        let b = r.body();
        self.tx.prepare_cached(
            "INSERT INTO receipts (seq, id, learner, kind, wall_ms, envelope) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            b.seq as i64,
            r.id().0.as_slice(),
            b.learner.0.as_bytes(),
            b.event.kind(),
            b.wall_ms,
            r.envelope_bytes()
        ])?;
        self.changes.receipts = true;
        Ok(())
    }

    pub fn receipt_id_at(&self, seq: u64) -> Result<Option<ReceiptId>> {
        let id: Option<Vec<u8>> = self
            .tx
            .query_row(
                "SELECT id FROM receipts WHERE seq = ?1",
                [seq as i64],
                |r| r.get(0),
            )
            .optional()?;
        Ok(id.and_then(|b| ReceiptId::from_slice(&b)))
    }
}

impl Store {
    pub fn head(&self) -> Result<ChainHead> {
        head(&self.conn)
    }

    /// Unacknowledged receipts after `after_seq`, in chain order, at most `limit`.
    pub fn outbox(&self, after_seq: u64, limit: u32) -> Result<Vec<OutboxItem>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, envelope FROM receipts
             WHERE seq > max(?1, (SELECT acked_seq FROM device)) ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after_seq as i64, limit], |r| {
            Ok(OutboxItem {
                seq: r.get::<_, i64>(0)? as u64,
                envelope: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every envelope from `from_seq` on, in chain order, handed to `f` one at a time (memory
    /// stays flat however long the ledger is).
    pub fn for_each_envelope(
        &self,
        from_seq: u64,
        mut f: impl FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, envelope FROM receipts WHERE seq >= ?1 ORDER BY seq")?;
        let mut rows = stmt.query([from_seq as i64])?;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let env = row.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
            f(seq as u64, env)?;
        }
        Ok(())
    }

    pub fn recent_receipts(&self, limit: u32) -> Result<Vec<ReceiptSummary>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, id, learner, kind, wall_ms, seq <= (SELECT acked_seq FROM device)
             FROM receipts ORDER BY seq DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, bool>(5)?,
            ))
        })?;
        rows.map(|row| {
            let (seq, id, learner, kind, wall_ms, acknowledged) = row?;
            let broken = || CoreError::LedgerBroken(format!("receipt {seq}: bad row"));
            Ok(ReceiptSummary {
                seq: seq as u64,
                id: ReceiptId::from_slice(&id).ok_or_else(broken)?,
                learner: LearnerId(uuid_from(&learner).ok_or_else(broken)?),
                kind,
                wall_ms,
                acknowledged,
            })
        })
        .collect()
    }

    pub fn status(&self) -> Result<LedgerStatus> {
        let head = self.head()?.seq;
        let acked: i64 = self
            .conn
            .query_row("SELECT acked_seq FROM device", [], |r| r.get(0))?;
        let acked = acked as u64;
        Ok(LedgerStatus {
            head_seq: head,
            acked_seq: acked,
            pending: head.saturating_sub(acked),
        })
    }
}
