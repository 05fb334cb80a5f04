-- Schema 4: what trainers assigned to the classes this device serves, as last pulled from the
-- service (the service's list is the truth: a pull replaces it).
CREATE TABLE assignments (
    id TEXT PRIMARY KEY,
    class_id TEXT NOT NULL,
    course TEXT NOT NULL,
    lesson TEXT,
    exam TEXT,
    due_ms INTEGER,
    created_ms INTEGER NOT NULL
) STRICT;
