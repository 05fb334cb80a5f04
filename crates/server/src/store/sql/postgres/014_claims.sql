-- As sql/014_claims.sql (issue #15 item 5): subsidy claims, each with its frozen signed class
-- claim pack, and the supervisor's decision, written once.
CREATE TABLE claims (
    id               UUID PRIMARY KEY,
    org_id           UUID NOT NULL REFERENCES orgs(id),
    class_id         UUID NOT NULL REFERENCES classes(id),
    class_name       TEXT NOT NULL,
    submitted_by     UUID NOT NULL REFERENCES users(id),
    submitted_ms     BIGINT NOT NULL,
    pack             BYTEA NOT NULL,
    pack_sha256      BYTEA NOT NULL,
    learners         BIGINT NOT NULL,
    credited_ms      BIGINT NOT NULL,
    certificates     BIGINT NOT NULL,
    open_flags       BIGINT NOT NULL,
    decision         TEXT CHECK (decision IN ('approved', 'rejected')),
    reason           TEXT,
    decided_by       UUID REFERENCES users(id),
    decided_ms       BIGINT
);
CREATE INDEX claims_by_org ON claims (org_id, submitted_ms);
CREATE UNIQUE INDEX claims_one_open_per_class ON claims (class_id)
    WHERE decision IS NULL OR decision = 'approved';

CREATE FUNCTION claims_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'claims are never deleted';
    END IF;
    IF OLD.decision IS NOT NULL
       OR (NEW.id, NEW.org_id, NEW.class_id, NEW.class_name, NEW.submitted_by, NEW.submitted_ms,
           NEW.pack, NEW.pack_sha256, NEW.learners, NEW.credited_ms, NEW.certificates,
           NEW.open_flags)
          IS DISTINCT FROM
          (OLD.id, OLD.org_id, OLD.class_id, OLD.class_name, OLD.submitted_by, OLD.submitted_ms,
           OLD.pack, OLD.pack_sha256, OLD.learners, OLD.credited_ms, OLD.certificates,
           OLD.open_flags) THEN
        RAISE EXCEPTION 'a claim is frozen once submitted and decided once';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER claims_frozen BEFORE UPDATE OR DELETE ON claims
    FOR EACH ROW EXECUTE FUNCTION claims_frozen();
