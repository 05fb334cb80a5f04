-- Mirrors sql/003_assignments.sql.
CREATE TABLE assignments (
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES orgs(id),
    class_id    UUID NOT NULL REFERENCES classes(id),
    course      TEXT NOT NULL,
    lesson      TEXT,
    exam        TEXT,
    due_ms      BIGINT,
    created_by  UUID NOT NULL REFERENCES users(id),
    created_ms  BIGINT NOT NULL,
    CHECK (lesson IS NULL OR exam IS NULL)
);
CREATE INDEX assignments_by_class ON assignments (class_id, created_ms);
CREATE INDEX assignments_by_org ON assignments (org_id, created_ms);
