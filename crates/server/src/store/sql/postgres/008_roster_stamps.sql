-- As sql/008_roster_stamps.sql: a counter per organisation, moved by triggers whenever its
-- people, PINs, classes or assignments change.
CREATE TABLE roster_stamps (
    org_id  UUID PRIMARY KEY,
    stamp   BIGINT NOT NULL
);

CREATE FUNCTION bump_roster_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE org UUID;
BEGIN
    IF TG_OP = 'DELETE' THEN org := OLD.org_id; ELSE org := NEW.org_id; END IF;
    INSERT INTO roster_stamps (org_id, stamp) VALUES (org, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = roster_stamps.stamp + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER learners_roster AFTER INSERT OR UPDATE OR DELETE ON learners
    FOR EACH ROW EXECUTE FUNCTION bump_roster_stamp();
CREATE TRIGGER users_roster AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION bump_roster_stamp();
CREATE TRIGGER classes_roster AFTER INSERT OR UPDATE OR DELETE ON classes
    FOR EACH ROW EXECUTE FUNCTION bump_roster_stamp();
CREATE TRIGGER assignments_roster AFTER INSERT OR UPDATE OR DELETE ON assignments
    FOR EACH ROW EXECUTE FUNCTION bump_roster_stamp();
