-- Issue #14: a certificate's signed Verifiable Credential (frozen at first issue, so the same
-- certificate always has the same bytes), its index in the revocation status list, and its
-- revocation. Like every table, it carries the organisation (a distribution key for Citus).
CREATE TABLE certificate_credentials (
    serial          TEXT PRIMARY KEY REFERENCES certificates (serial),
    org_id          UUID NOT NULL,
    status_index    BIGINT NOT NULL UNIQUE,
    credential      TEXT,
    revoked_ms      BIGINT,
    revoked_reason  TEXT
);
CREATE INDEX certificate_credentials_revoked ON certificate_credentials (status_index)
    WHERE revoked_ms IS NOT NULL;
