-- What a trainer asks a class to do: a lesson, a whole course, or a timed exam, maybe by a date.
CREATE TABLE assignments (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    class_id    TEXT NOT NULL REFERENCES classes(id),
    course      TEXT NOT NULL,
    lesson      TEXT,
    exam        TEXT,
    due_ms      INTEGER,
    created_by  TEXT NOT NULL REFERENCES users(id),
    created_ms  INTEGER NOT NULL,
    CHECK (lesson IS NULL OR exam IS NULL)
);
CREATE INDEX assignments_by_class ON assignments (class_id, created_ms);
CREATE INDEX assignments_by_org ON assignments (org_id, created_ms);
