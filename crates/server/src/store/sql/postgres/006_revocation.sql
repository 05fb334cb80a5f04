-- Mirrors sql/006_revocation.sql (issue #19).
CREATE INDEX tokens_by_subject ON tokens (subject_kind, subject_id);

CREATE TABLE relays (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id        UUID NOT NULL REFERENCES orgs(id),
    device_id     UUID NOT NULL,
    carrier_kind  TEXT NOT NULL CHECK (carrier_kind IN ('device', 'user', 'cli')),
    carrier_id    UUID,
    received_ms   BIGINT NOT NULL,
    receipts      BIGINT NOT NULL,
    accepted      BIGINT NOT NULL
);
CREATE INDEX relays_by_org ON relays (org_id, id);
