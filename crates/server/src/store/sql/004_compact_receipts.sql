-- hearth-server schema, version 4: receipts stored more cheaply (issue #3: ingest must cost little
-- more than verifying the signatures).
--
-- Every device gets a small integer key, `num`, fixed at enrollment; the receipts table is keyed
-- by (device num, seq) itself (WITHOUT ROWID: one B-tree instead of a rowid table plus a unique
-- index), and the learner is kept as the UUID's 16 raw bytes instead of 36 characters of text.
-- A receipt row plus its learner index entry shrinks from about 490 to about 370 bytes, so each
-- batch writes fewer pages to the WAL and to the database at checkpoints. Envelopes stay byte for
-- byte as received.

ALTER TABLE devices ADD COLUMN num INTEGER;
UPDATE devices SET num = rowid;
CREATE UNIQUE INDEX devices_by_num ON devices (num);

CREATE TABLE receipts_v3 (
    device       INTEGER NOT NULL,   -- devices.num
    seq          INTEGER NOT NULL,
    id           BLOB NOT NULL,
    learner      BLOB NOT NULL,      -- the learner's UUID, 16 bytes
    kind         TEXT NOT NULL,
    received_ms  INTEGER NOT NULL,
    envelope     BLOB NOT NULL,
    PRIMARY KEY (device, seq)
) WITHOUT ROWID;

-- A LEFT JOIN, so that a receipt without its device (or with a learner id that is not a UUID)
-- fails the NOT NULL constraints and stops the migration instead of being dropped.
INSERT INTO receipts_v3 (device, seq, id, learner, kind, received_ms, envelope)
SELECT d.num, r.seq, r.id, unhex(replace(r.learner_id, '-', '')), r.kind, r.received_ms,
       r.envelope
FROM receipts r LEFT JOIN devices d ON d.id = r.device_id;

DROP TABLE receipts;
ALTER TABLE receipts_v3 RENAME TO receipts;
CREATE INDEX receipts_by_learner ON receipts (learner);
