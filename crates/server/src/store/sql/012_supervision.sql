-- Slot 012, issue #15 item 5 (the supervisor, 人社部门): regions, the organisations each one
-- supervises, and supervisors, people of a region's office who see that region's institutions.

-- Regions by administrative division code (GB/T 2260, six digits: 440000 a province, 440300 a
-- city in it, 440305 a district). `parent` makes the hierarchy: a supervisor of a region sees
-- its sub-regions too. `office_org_id` is the region's human-resources office itself, an
-- organisation of its own whose people are the region's supervisors (so their sign-in,
-- sessions and audit chain work as everyone else's); it trains nobody.
CREATE TABLE regions (
    code           TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    parent         TEXT REFERENCES regions(code),
    office_org_id  TEXT NOT NULL UNIQUE REFERENCES orgs(id),
    created_ms     INTEGER NOT NULL
);

-- Which region supervises an institution (at most one).
CREATE TABLE org_regions (
    org_id       TEXT PRIMARY KEY REFERENCES orgs(id),
    region_code  TEXT NOT NULL REFERENCES regions(code),
    set_ms       INTEGER NOT NULL
);
CREATE INDEX org_regions_by_region ON org_regions (region_code, org_id);

-- A supervisor's region (org_id: the region's office, the supervisor's organisation).
CREATE TABLE supervisors (
    user_id      TEXT PRIMARY KEY REFERENCES users(id),
    org_id       TEXT NOT NULL REFERENCES orgs(id),
    region_code  TEXT NOT NULL REFERENCES regions(code)
);

-- users.role gains 'supervisor'. SQLite cannot change a CHECK in place: the table is made again
-- (the documented twelve-step way; the migrations run with foreign keys off and this one ends
-- with a foreign key check), and its roster triggers with it.
CREATE TABLE users_012 (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    role        TEXT NOT NULL CHECK (role IN ('admin', 'trainer', 'supervisor')),
    name        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    pin_hash    TEXT
);
INSERT INTO users_012 (id, org_id, role, name, created_ms, pin_hash)
    SELECT id, org_id, role, name, created_ms, pin_hash FROM users;
DROP TABLE users;
ALTER TABLE users_012 RENAME TO users;
CREATE TRIGGER users_roster_insert AFTER INSERT ON users BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER users_roster_update AFTER UPDATE ON users BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER users_roster_delete AFTER DELETE ON users BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (OLD.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
