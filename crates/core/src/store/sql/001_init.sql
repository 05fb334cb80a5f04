-- Schema 1: the device, its learners, and the receipt ledger.

-- One row: this installation.
CREATE TABLE device (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    device_id BLOB NOT NULL,        -- 16 bytes, derived from the public key
    public_key BLOB NOT NULL,       -- 32 bytes; must match device.key
    created_ms INTEGER NOT NULL,
    last_run INTEGER NOT NULL,      -- app runs so far; receipts' monotonic stamps name their run
    acked_seq INTEGER NOT NULL DEFAULT 0,  -- the service acknowledged the chain up to here
    anchor BLOB                     -- postcard(AnchorRef): the latest service time anchor held
) STRICT;

-- People who study (or teach) on this device: local profiles and, later, the roster.
CREATE TABLE learners (
    id BLOB PRIMARY KEY,            -- 16-byte UUID
    display_name TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'learner' CHECK (role IN ('learner', 'trainer')),
    created_ms INTEGER NOT NULL
) STRICT;

-- The ledger: every receipt this device signed, in chain order, byte for byte.
CREATE TABLE receipts (
    seq INTEGER PRIMARY KEY,        -- chain position, from 1 without holes
    id BLOB NOT NULL,               -- SHA-256 receipt id
    learner BLOB NOT NULL REFERENCES learners (id),
    kind TEXT NOT NULL,             -- Event::kind(), for listing without decoding
    wall_ms INTEGER NOT NULL,
    envelope BLOB NOT NULL          -- the signed envelope exactly as signed
) STRICT;
