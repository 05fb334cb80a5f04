-- As sql/016_photo_checkpoints.sql (issue #17 item 2): an organisation's photo policy, audit
-- requests for a learner's photos, and the photos uploaded for them (checked against the chain).
CREATE TABLE org_photo_policy (
    org_id   UUID PRIMARY KEY REFERENCES orgs(id),
    enabled  BOOLEAN NOT NULL,
    set_ms   BIGINT NOT NULL
);
CREATE TABLE photo_requests (
    id            UUID PRIMARY KEY,
    org_id        UUID NOT NULL REFERENCES orgs(id),
    learner_id    UUID NOT NULL,
    requested_by  UUID NOT NULL REFERENCES users(id),
    reason        TEXT NOT NULL,
    requested_ms  BIGINT NOT NULL,
    fulfilled_ms  BIGINT
);
CREATE INDEX photo_requests_by_org ON photo_requests (org_id, fulfilled_ms);
CREATE INDEX photo_requests_by_learner ON photo_requests (learner_id);
CREATE TABLE audit_photos (
    request_id     UUID NOT NULL REFERENCES photo_requests(id),
    receipt_id     BYTEA NOT NULL,
    learner_id     UUID NOT NULL,
    sha256         BYTEA NOT NULL,
    taken_wall_ms  BIGINT NOT NULL,
    received_ms    BIGINT NOT NULL,
    jpeg           BYTEA NOT NULL,
    stored_ms      BIGINT NOT NULL,
    PRIMARY KEY (request_id, receipt_id)
);
