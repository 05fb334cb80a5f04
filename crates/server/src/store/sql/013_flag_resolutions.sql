-- Slot 013, issue #15 (the console): an administrator's resolution of a flag in the flags report
-- (a fork, overlapping study, a rejected receipt, withheld credit, an attestation naming someone
-- studying elsewhere, an anomaly flag): a note, who, when. flag_key names the flag as the flags
-- report does (`fork:<device>`, `overlap:<learner>:<device>:<device>`, …; domain::flag_review).
-- A resolution is a record of review only: it changes no credit (credit is derived from the
-- receipts alone; a device's fork flag is lifted by `hearth-server resolve-flag`, which does).
-- One resolution per flag; rows are never changed or removed.
CREATE TABLE flag_resolutions (
    org_id       TEXT NOT NULL REFERENCES orgs(id),
    flag_key     TEXT NOT NULL,
    note         TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id),
    resolved_ms  INTEGER NOT NULL,
    PRIMARY KEY (org_id, flag_key)
);
CREATE TRIGGER flag_resolutions_no_update BEFORE UPDATE ON flag_resolutions
BEGIN SELECT RAISE(ABORT, 'flag_resolutions is append-only'); END;
CREATE TRIGGER flag_resolutions_no_delete BEFORE DELETE ON flag_resolutions
BEGIN SELECT RAISE(ABORT, 'flag_resolutions is append-only'); END;
