-- Schema 5: study state kept beside the ledger, written in the same transaction as the receipt
-- it follows from (media positions, practice answers, exam attempts), and each learner's record
-- as last pulled from the service.

-- The furthest point of first viewing, per learner and media file.
CREATE TABLE media_progress (
    learner BLOB NOT NULL REFERENCES learners (id),
    media BLOB NOT NULL,                -- SHA-256 of the file
    furthest_ms INTEGER NOT NULL,
    duration_ms INTEGER,
    finished INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (learner, media)
) STRICT;

-- The latest practice answer per item, judged against the cached key.
CREATE TABLE quiz_answers (
    learner BLOB NOT NULL REFERENCES learners (id),
    course TEXT NOT NULL,
    quiz TEXT NOT NULL,
    item TEXT NOT NULL,
    correct INTEGER NOT NULL,
    seq INTEGER NOT NULL,               -- the quiz_answered receipt
    wall_ms INTEGER NOT NULL,
    PRIMARY KEY (learner, course, quiz, item)
) STRICT;

-- Exam attempts: started (open), submitted, or expired (not submitted in time).
CREATE TABLE exam_attempts (
    learner BLOB NOT NULL REFERENCES learners (id),
    course TEXT NOT NULL,
    exam TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    version INTEGER NOT NULL,
    started_seq INTEGER NOT NULL,
    started_wall_ms INTEGER NOT NULL,
    started_run INTEGER NOT NULL,
    started_mono_ms INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'submitted', 'expired')),
    submitted_seq INTEGER,
    submitted_wall_ms INTEGER,
    answered INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (learner, course, exam, attempt)
) STRICT;

-- A learner's record as the service derived it, pulled by the sync round.
CREATE TABLE learner_records (
    learner BLOB PRIMARY KEY REFERENCES learners (id),
    record TEXT NOT NULL,               -- the JSON the service sent (LearnerRecord)
    reflects_seq INTEGER NOT NULL,      -- this device's acknowledged position when pulled
    pulled_ms INTEGER NOT NULL
) STRICT;

-- Per-learner reads of the ledger (study time per day, what waits to sync).
CREATE INDEX receipts_learner_kind ON receipts (learner, kind, seq);
