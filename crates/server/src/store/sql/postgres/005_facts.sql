-- Mirrors sql/005_facts.sql: facts derived at ingest.
CREATE TABLE learner_facts (
    learner   UUID PRIMARY KEY,
    org_id    UUID NOT NULL,
    facts     BYTEA NOT NULL,
    flagged   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX learner_facts_flagged ON learner_facts (org_id, flagged, learner);

CREATE TABLE device_facts (
    device    BIGINT PRIMARY KEY,    -- devices.num
    org_id    UUID NOT NULL,
    facts     BYTEA NOT NULL
);

CREATE TABLE facts_meta (
    key    TEXT PRIMARY KEY,
    value  BIGINT NOT NULL
);
INSERT INTO facts_meta (key, value) VALUES ('version', 0);

ALTER TABLE devices ADD COLUMN flag_resolved_ms BIGINT;
ALTER TABLE devices ADD COLUMN flag_resolved_by TEXT;
ALTER TABLE devices ADD COLUMN flag_resolved_reason TEXT;

CREATE TABLE rejection_counts (
    device_id  UUID NOT NULL,
    org_id     UUID NOT NULL,
    code       TEXT NOT NULL,
    count      BIGINT NOT NULL,
    kept       BIGINT NOT NULL,
    PRIMARY KEY (device_id, code)
);
CREATE INDEX rejection_counts_by_org ON rejection_counts (org_id);

CREATE TABLE org_policy (
    org_id        UUID PRIMARY KEY REFERENCES orgs(id),
    daily_cap_ms  BIGINT NOT NULL
);
