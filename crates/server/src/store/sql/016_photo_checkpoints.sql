-- Slot 016, issue #17 item 2 (photo checkpoints, docs/privacy.md). No face templates, no
-- recognition: only photos a learner consented to, uploaded for an audit and checked against the
-- SHA-256 in a `photo_taken` receipt of that learner's chain.
--
-- An organisation's policy: photo checkpoints on or off (off when there is no row).
CREATE TABLE org_photo_policy (
    org_id   TEXT PRIMARY KEY REFERENCES orgs(id),
    enabled  INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    set_ms   INTEGER NOT NULL
);
-- An administrator's or supervisor's request for a learner's photos, with its reason (also in the
-- audit log). Devices learn of open ones when they sync; fulfilled_ms is set by the first upload.
CREATE TABLE photo_requests (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    learner_id    TEXT NOT NULL,
    requested_by  TEXT NOT NULL REFERENCES users(id),
    reason        TEXT NOT NULL,
    requested_ms  INTEGER NOT NULL,
    fulfilled_ms  INTEGER
);
CREATE INDEX photo_requests_by_org ON photo_requests (org_id, fulfilled_ms);
CREATE INDEX photo_requests_by_learner ON photo_requests (learner_id);
-- Photos uploaded for a request, opened with the service's photo key and matched to the
-- `photo_taken` receipt (receipt_id) whose sha256 they hash to. Deleted after the retention.
CREATE TABLE audit_photos (
    request_id     TEXT NOT NULL REFERENCES photo_requests(id),
    receipt_id     BLOB NOT NULL,
    learner_id     TEXT NOT NULL,
    sha256         BLOB NOT NULL,
    taken_wall_ms  INTEGER NOT NULL,
    received_ms    INTEGER NOT NULL,
    jpeg           BLOB NOT NULL,
    stored_ms      INTEGER NOT NULL,
    PRIMARY KEY (request_id, receipt_id)
);
