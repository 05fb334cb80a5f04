-- Slot 014, issue #15 item 5: subsidy claims (补贴申领) and their review. An institution's
-- administrator submits a class's claim: the service makes the signed class claim pack at that
-- moment and keeps it here frozen (its bytes and their SHA-256) with the totals it showed. The
-- supervisor of the institution's region (or of a region above) approves it or rejects it with
-- a reason; the decision is set once and never changed. A rejected class may submit again (a new
-- claim); a class has at most one claim pending or approved (the partial unique index).
CREATE TABLE claims (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs(id),
    class_id         TEXT NOT NULL REFERENCES classes(id),
    class_name       TEXT NOT NULL,
    submitted_by     TEXT NOT NULL REFERENCES users(id),
    submitted_ms     INTEGER NOT NULL,
    pack             BLOB NOT NULL,
    pack_sha256      BLOB NOT NULL,
    learners         INTEGER NOT NULL,
    credited_ms      INTEGER NOT NULL,
    certificates     INTEGER NOT NULL,
    open_flags       INTEGER NOT NULL,
    -- NULL while pending; 'approved' or 'rejected'.
    decision         TEXT CHECK (decision IN ('approved', 'rejected')),
    reason           TEXT,
    decided_by       TEXT REFERENCES users(id),
    decided_ms       INTEGER
);
CREATE INDEX claims_by_org ON claims (org_id, submitted_ms);
CREATE UNIQUE INDEX claims_one_open_per_class ON claims (class_id)
    WHERE decision IS NULL OR decision = 'approved';
-- The pack and the submission are frozen; the decision is written once.
CREATE TRIGGER claims_decided_once BEFORE UPDATE ON claims
WHEN OLD.decision IS NOT NULL
  OR NEW.id IS NOT OLD.id OR NEW.org_id IS NOT OLD.org_id OR NEW.class_id IS NOT OLD.class_id
  OR NEW.class_name IS NOT OLD.class_name OR NEW.submitted_by IS NOT OLD.submitted_by
  OR NEW.submitted_ms IS NOT OLD.submitted_ms OR NEW.pack IS NOT OLD.pack
  OR NEW.pack_sha256 IS NOT OLD.pack_sha256 OR NEW.learners IS NOT OLD.learners
  OR NEW.credited_ms IS NOT OLD.credited_ms OR NEW.certificates IS NOT OLD.certificates
  OR NEW.open_flags IS NOT OLD.open_flags
BEGIN SELECT RAISE(ABORT, 'a claim is frozen once submitted and decided once'); END;
CREATE TRIGGER claims_no_delete BEFORE DELETE ON claims
BEGIN SELECT RAISE(ABORT, 'claims are never deleted'); END;
