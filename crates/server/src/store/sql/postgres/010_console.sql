-- As sql/010_console.sql (issue #15): console accounts, failed sign-ins, sessions, audit log.
-- Every table carries org_id (NULL in sign_in_failures only when the login named nobody).
CREATE TABLE console_accounts (
    user_id       UUID PRIMARY KEY REFERENCES users(id),
    org_id        UUID NOT NULL REFERENCES orgs(id),
    login         TEXT NOT NULL UNIQUE,
    password_phc  TEXT NOT NULL,
    set_ms        BIGINT NOT NULL,
    last_ok_ms    BIGINT
);

CREATE TABLE sign_in_failures (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id    UUID REFERENCES orgs(id),
    user_id   UUID REFERENCES users(id),
    login     TEXT NOT NULL,
    address   TEXT NOT NULL,
    at_ms     BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_by_login ON sign_in_failures (login, at_ms);
CREATE INDEX sign_in_failures_by_address ON sign_in_failures (address, at_ms);

CREATE TABLE console_sessions (
    hash        BYTEA PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES orgs(id),
    user_id     UUID NOT NULL REFERENCES users(id),
    csrf        BYTEA NOT NULL,
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_user ON console_sessions (user_id);

CREATE TABLE audit_log (
    org_id      UUID NOT NULL REFERENCES orgs(id),
    seq         BIGINT NOT NULL,
    at_ms       BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    prev_hash   BYTEA NOT NULL,
    hash        BYTEA NOT NULL,
    PRIMARY KEY (org_id, seq)
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
