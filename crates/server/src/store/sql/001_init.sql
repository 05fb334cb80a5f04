-- hearth-server schema, version 1. Ids are UUID text; hashes and keys are raw bytes.

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_ms  INTEGER NOT NULL
);

-- Administrators and trainers (people who act through tokens from the CLI).
CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    role        TEXT NOT NULL CHECK (role IN ('admin', 'trainer')),
    name        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);

CREATE TABLE classes (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    trainer_id  TEXT NOT NULL REFERENCES users(id),
    name        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);

-- Real-name learners. The national ID number is kept only as a keyed hash (to match it) and its
-- last four characters (to show it masked).
CREATE TABLE learners (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs(id),
    name            TEXT NOT NULL,
    national_id_mac BLOB NOT NULL,
    national_id_tail TEXT NOT NULL,
    class_id        TEXT REFERENCES classes(id),
    pin_hash        TEXT,
    created_ms      INTEGER NOT NULL,
    UNIQUE (org_id, national_id_mac)
);

-- Bearer credentials, by SHA-256 of the token. subject_kind: 'user' or 'device'.
CREATE TABLE tokens (
    hash          BLOB PRIMARY KEY,
    subject_kind  TEXT NOT NULL CHECK (subject_kind IN ('user', 'device')),
    subject_id    TEXT NOT NULL,
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    created_ms    INTEGER NOT NULL,
    expires_ms    INTEGER NOT NULL
);

CREATE TABLE enrollment_codes (
    hash        BLOB PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    learner_id  TEXT REFERENCES learners(id),
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    used_ms     INTEGER,
    device_id   TEXT
);

CREATE TABLE devices (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    public_key    BLOB NOT NULL UNIQUE,
    learner_id    TEXT REFERENCES learners(id),
    label         TEXT,
    enrolled_ms   INTEGER NOT NULL,
    head_seq      INTEGER NOT NULL DEFAULT 0,
    head_id       BLOB NOT NULL,
    flag_code     TEXT,
    flag_detail   TEXT,
    flagged_ms    INTEGER
);

-- The acknowledged chain of every device, envelopes byte for byte as received. A rowid table
-- (rows are appended in arrival order; the unique index on the chain position stays small).
CREATE TABLE receipts (
    rowid        INTEGER PRIMARY KEY,
    device_id    TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    id           BLOB NOT NULL,
    learner_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    received_ms  INTEGER NOT NULL,
    envelope     BLOB NOT NULL,
    UNIQUE (device_id, seq)
);
CREATE INDEX receipts_by_learner ON receipts (learner_id);

-- Verified receipts waiting for a gap before them to fill.
CREATE TABLE pending (
    device_id    TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    id           BLOB NOT NULL,
    prev         BLOB NOT NULL,
    learner_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    received_ms  INTEGER NOT NULL,
    envelope     BLOB NOT NULL,
    PRIMARY KEY (device_id, seq, id)
) WITHOUT ROWID;

-- Refused envelopes, kept for audit (forks included).
CREATE TABLE rejections (
    rowid        INTEGER PRIMARY KEY,
    device_id    TEXT NOT NULL,
    org_id       TEXT NOT NULL,
    code         TEXT NOT NULL,
    seq          INTEGER,
    received_ms  INTEGER NOT NULL,
    envelope     BLOB NOT NULL
);
CREATE INDEX rejections_by_org ON rejections (org_id, received_ms);

CREATE TABLE packages (
    course        TEXT NOT NULL,
    version       INTEGER NOT NULL,
    title         TEXT NOT NULL,
    manifest      BLOB NOT NULL,
    manifest_sha  TEXT NOT NULL,
    total_size    INTEGER NOT NULL,
    published_ms  INTEGER NOT NULL,
    PRIMARY KEY (course, version)
);

-- Exam answer keys: never sent to clients.
CREATE TABLE exam_keys (
    course   TEXT NOT NULL,
    version  INTEGER NOT NULL,
    exam     TEXT NOT NULL,
    item     TEXT NOT NULL,
    correct  TEXT NOT NULL,
    points   INTEGER NOT NULL,
    PRIMARY KEY (course, version, exam, item)
);

CREATE TABLE certificates (
    serial      TEXT PRIMARY KEY,
    learner_id  TEXT NOT NULL,
    course      TEXT NOT NULL,
    issued_ms   INTEGER NOT NULL,
    UNIQUE (learner_id, course)
);
