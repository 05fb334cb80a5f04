-- Slot 010, issue #15 (the console): people sign in with a password, sessions, lock-out, and the
-- append-only, hash-chained audit log of everything a person does.

-- One sign-in per administrator or trainer: a login name (unique in the service, kept lower
-- case) and an argon2id verifier in PHC string form (algorithm, parameters and salt inside).
-- last_ok_ms: the last successful sign-in (failures before it no longer count towards lock-out).
CREATE TABLE console_accounts (
    user_id       TEXT PRIMARY KEY REFERENCES users(id),
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    login         TEXT NOT NULL UNIQUE,
    password_phc  TEXT NOT NULL,
    set_ms        INTEGER NOT NULL,
    last_ok_ms    INTEGER
);

-- Failed sign-ins, kept so that lock-out holds across restarts and across service processes.
-- Counted by the login typed (lower case), whether it names somebody or not, so that lock-out
-- does not tell which logins exist; user_id and org_id are NULL when it names nobody.
CREATE TABLE sign_in_failures (
    id        INTEGER PRIMARY KEY,
    org_id    TEXT REFERENCES orgs(id),
    user_id   TEXT REFERENCES users(id),
    login     TEXT NOT NULL,
    address   TEXT NOT NULL,
    at_ms     INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_by_login ON sign_in_failures (login, at_ms);
CREATE INDEX sign_in_failures_by_address ON sign_in_failures (address, at_ms);

-- Console sessions, by SHA-256 of the cookie's token; csrf: the session's random
-- anti-forgery token (base64url in the X-CSRF-Token header of every state-changing request;
-- alone it is worth nothing without the session cookie).
CREATE TABLE console_sessions (
    hash        BLOB PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    user_id     TEXT NOT NULL REFERENCES users(id),
    csrf        BLOB NOT NULL,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL
);
CREATE INDEX console_sessions_by_user ON console_sessions (user_id);

-- The audit log: one chain per organisation. hash = SHA-256 over the previous entry's hash and
-- this entry's fields (domain::audit), so an edited or removed entry breaks the chain. Rows are
-- never changed or removed: the triggers refuse it.
CREATE TABLE audit_log (
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    seq         INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    prev_hash   BLOB NOT NULL,
    hash        BLOB NOT NULL,
    PRIMARY KEY (org_id, seq)
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
