-- Issue #14: a certificate's signed Verifiable Credential (frozen at first issue, so the same
-- certificate always has the same bytes), its index in the revocation status list, and its
-- revocation.
CREATE TABLE certificate_credentials (
    serial          TEXT PRIMARY KEY REFERENCES certificates (serial),
    status_index    INTEGER NOT NULL UNIQUE,
    credential      TEXT,
    revoked_ms      INTEGER,
    revoked_reason  TEXT
);
