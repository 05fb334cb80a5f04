-- Slot 006, issue #19 (abuse limits, revocation, carriers). Comes after 005.

-- Revocation deletes every token of a device or a user: find them without a table scan.
CREATE INDEX tokens_by_subject ON tokens (subject_kind, subject_id);

-- Who carried relayed receipts: one row per request and device whose section was ingested
-- (a kiosk's device credential, a user's token, or the service's administrator importing a
-- bundle file on the command line), kept for audit next to the receipts themselves.
CREATE TABLE relays (
    id            INTEGER PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    device_id     TEXT NOT NULL,
    carrier_kind  TEXT NOT NULL CHECK (carrier_kind IN ('device', 'user', 'cli')),
    carrier_id    TEXT,
    received_ms   INTEGER NOT NULL,
    receipts      INTEGER NOT NULL,
    accepted      INTEGER NOT NULL
);
CREATE INDEX relays_by_org ON relays (org_id, received_ms);
