-- Slot 012 on PostgreSQL (mirrors sql/012_supervision.sql): regions, the organisations each one
-- supervises, supervisors; users.role gains 'supervisor'. Regions are a small reference table;
-- org_regions and supervisors carry the organisation (of the institution, of the office).

CREATE TABLE regions (
    code           TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    parent         TEXT REFERENCES regions(code),
    office_org_id  UUID NOT NULL UNIQUE REFERENCES orgs(id),
    created_ms     BIGINT NOT NULL
);

CREATE TABLE org_regions (
    org_id       UUID PRIMARY KEY REFERENCES orgs(id),
    region_code  TEXT NOT NULL REFERENCES regions(code),
    set_ms       BIGINT NOT NULL
);
CREATE INDEX org_regions_by_region ON org_regions (region_code, org_id);

CREATE TABLE supervisors (
    user_id      UUID PRIMARY KEY REFERENCES users(id),
    org_id       UUID NOT NULL REFERENCES orgs(id),
    region_code  TEXT NOT NULL REFERENCES regions(code)
);

ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('admin', 'trainer', 'supervisor'));
