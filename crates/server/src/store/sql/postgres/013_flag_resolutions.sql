-- As sql/013_flag_resolutions.sql (issue #15): an administrator's resolution of a flag (a note,
-- who, when), one per flag, never changed; it changes no credit.
CREATE TABLE flag_resolutions (
    org_id       UUID NOT NULL REFERENCES orgs(id),
    flag_key     TEXT NOT NULL,
    note         TEXT NOT NULL,
    user_id      UUID NOT NULL REFERENCES users(id),
    resolved_ms  BIGINT NOT NULL,
    PRIMARY KEY (org_id, flag_key)
);

CREATE FUNCTION flag_resolutions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'flag_resolutions is append-only';
END $$;
CREATE TRIGGER flag_resolutions_no_change BEFORE UPDATE OR DELETE ON flag_resolutions
    FOR EACH ROW EXECUTE FUNCTION flag_resolutions_append_only();
