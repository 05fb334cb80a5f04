-- Schema 3: the course cache. A course version appears here only once every one of its files is
-- on disk and verified; it is written in one transaction (see content/mod.rs). Media bytes live
-- outside the database, content-addressed: DATA_DIR/media/<sha256 hex>.

-- Small settings and cached answers of the content service (catalog ETag and body, budget).
CREATE TABLE content_meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE courses (
    course TEXT NOT NULL,
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    language TEXT NOT NULL,
    publisher BLOB NOT NULL,            -- 32 bytes: the pinned key the manifest verified under
    manifest BLOB NOT NULL,             -- the signed manifest bytes exactly as received
    total_size INTEGER NOT NULL,        -- bytes of all files
    installed_ms INTEGER NOT NULL,
    PRIMARY KEY (course, version)
) STRICT;

-- Every file of an installed course; what keeps a media file alive.
CREATE TABLE course_files (
    course TEXT NOT NULL,
    version INTEGER NOT NULL,
    path TEXT NOT NULL,
    sha256 BLOB NOT NULL,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    duration_ms INTEGER,
    PRIMARY KEY (course, version, path),
    FOREIGN KEY (course, version) REFERENCES courses (course, version) ON DELETE CASCADE
) STRICT;
CREATE INDEX course_files_sha ON course_files (sha256);

CREATE TABLE lessons (
    course TEXT NOT NULL,
    version INTEGER NOT NULL,
    lesson TEXT NOT NULL,
    ord INTEGER NOT NULL,
    title TEXT NOT NULL,
    body_path TEXT NOT NULL,
    body_type TEXT NOT NULL,
    body TEXT NOT NULL,                 -- the lesson text itself
    media TEXT NOT NULL,                -- JSON array of package paths
    credit_ms INTEGER NOT NULL,
    PRIMARY KEY (course, version, lesson),
    FOREIGN KEY (course, version) REFERENCES courses (course, version) ON DELETE CASCADE
) STRICT;

-- Practice quiz items, with their answer keys.
CREATE TABLE quiz_items (
    course TEXT NOT NULL,
    version INTEGER NOT NULL,
    quiz TEXT NOT NULL,
    lesson TEXT NOT NULL,
    item TEXT NOT NULL,
    ord INTEGER NOT NULL,
    prompt TEXT NOT NULL,
    options TEXT NOT NULL,              -- JSON array of strings
    correct TEXT NOT NULL,              -- JSON array of option indices
    PRIMARY KEY (course, version, quiz, item),
    FOREIGN KEY (course, version) REFERENCES courses (course, version) ON DELETE CASCADE
) STRICT;

CREATE TABLE exams (
    course TEXT NOT NULL,
    version INTEGER NOT NULL,
    exam TEXT NOT NULL,
    ord INTEGER NOT NULL,
    title TEXT NOT NULL,
    duration_min INTEGER NOT NULL,
    pass_percent INTEGER NOT NULL,
    PRIMARY KEY (course, version, exam),
    FOREIGN KEY (course, version) REFERENCES courses (course, version) ON DELETE CASCADE
) STRICT;

-- Exam items carry no answer key: the service grades exams.
CREATE TABLE exam_items (
    course TEXT NOT NULL,
    version INTEGER NOT NULL,
    exam TEXT NOT NULL,
    item TEXT NOT NULL,
    ord INTEGER NOT NULL,
    prompt TEXT NOT NULL,
    options TEXT NOT NULL,              -- JSON array of strings
    multiple INTEGER NOT NULL,
    points INTEGER NOT NULL,
    PRIMARY KEY (course, version, exam, item),
    FOREIGN KEY (course, version, exam) REFERENCES exams (course, version, exam) ON DELETE CASCADE
) STRICT;
