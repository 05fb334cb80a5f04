-- hearth-server schema, version 5: facts derived at ingest (issue #12: credit that holds against a
-- modified client, read without replaying every receipt).
--
-- Every receipt is kept as it was; what is new is derived from them and can be rebuilt at any
-- time (`facts_meta.version` 0 asks the service to rebuild on start, which it does after this
-- migration, so credit is recomputed under the new rules).

-- One row per person (learner, or trainer for attestations): the facts of credit.rs, encoded.
-- `flagged` marks rows with withheld credit or overlaps, so the flags report finds them by index.
CREATE TABLE learner_facts (
    learner   BLOB PRIMARY KEY,      -- the person's UUID, 16 bytes
    org_id    TEXT NOT NULL,
    facts     BLOB NOT NULL,
    flagged   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX learner_facts_flagged ON learner_facts (org_id, flagged, learner);

-- One row per device: where its chain stands for the credit rules (frontier, who is signed in).
CREATE TABLE device_facts (
    device    INTEGER PRIMARY KEY,   -- devices.num
    facts     BLOB NOT NULL
);

CREATE TABLE facts_meta (
    key    TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);
INSERT INTO facts_meta (key, value) VALUES ('version', 0);

-- An administrator's resolution of a device flag; a later fork flags the device again.
ALTER TABLE devices ADD COLUMN flag_resolved_ms INTEGER;
ALTER TABLE devices ADD COLUMN flag_resolved_by TEXT;
ALTER TABLE devices ADD COLUMN flag_resolved_reason TEXT;

-- Rejections per device and code; only the first few per device are kept byte for byte.
CREATE TABLE rejection_counts (
    device_id  TEXT NOT NULL,
    org_id     TEXT NOT NULL,
    code       TEXT NOT NULL,
    count      INTEGER NOT NULL,
    kept       INTEGER NOT NULL,
    PRIMARY KEY (device_id, code)
) WITHOUT ROWID;
INSERT INTO rejection_counts (device_id, org_id, code, count, kept)
SELECT device_id, org_id, code, COUNT(*), COUNT(*) FROM rejections GROUP BY device_id, code;

-- Per-organisation policy (the daily cap on credited study).
CREATE TABLE org_policy (
    org_id        TEXT PRIMARY KEY REFERENCES orgs(id),
    daily_cap_ms  INTEGER NOT NULL
);
