-- Schema 2: enrollment with a service, and the organisation's roster.

-- One row once the device is enrolled.
CREATE TABLE enrollment (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    service_url TEXT NOT NULL,
    credential TEXT NOT NULL,           -- bearer credential; the data folder is owner-only
    credential_expires_ms INTEGER NOT NULL,
    org_id TEXT NOT NULL,
    org_name TEXT NOT NULL,
    owner BLOB,                         -- the learner a personal device belongs to (NULL: kiosk)
    anchor_key BLOB NOT NULL,           -- 32 bytes: the key the service signs time anchors with
    publisher_keys BLOB NOT NULL,       -- pinned publisher keys, 32 bytes each, concatenated
    enrolled_ms INTEGER NOT NULL
) STRICT;

-- Where a learner row came from, and the kiosk PIN check value from the roster.
ALTER TABLE learners ADD COLUMN source TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'roster'));
ALTER TABLE learners ADD COLUMN pin_hash TEXT;
