-- As sql/009_kiosk_classes.sql: the classes a kiosk enrollment code names, and the classes a
-- kiosk serves (its roster names only their learners and trainers); a change of a kiosk's
-- classes moves the organisation's roster stamp.
CREATE TABLE enrollment_code_classes (
    code_hash   BYTEA NOT NULL REFERENCES enrollment_codes(hash),
    class_id    UUID NOT NULL REFERENCES classes(id),
    org_id      UUID NOT NULL REFERENCES orgs(id),
    PRIMARY KEY (code_hash, class_id)
);
CREATE TABLE kiosk_classes (
    device_id   UUID NOT NULL REFERENCES devices(id),
    class_id    UUID NOT NULL REFERENCES classes(id),
    org_id      UUID NOT NULL REFERENCES orgs(id),
    PRIMARY KEY (device_id, class_id)
);
CREATE INDEX kiosk_classes_by_class ON kiosk_classes (class_id);

CREATE TRIGGER kiosk_classes_roster AFTER INSERT OR UPDATE OR DELETE ON kiosk_classes
    FOR EACH ROW EXECUTE FUNCTION bump_roster_stamp();

-- Kiosks enrolled before this migration keep working: linked to every class of their
-- organisation (see sql/009_kiosk_classes.sql).
INSERT INTO kiosk_classes (device_id, class_id, org_id)
SELECT d.id, c.id, d.org_id FROM devices d JOIN classes c ON c.org_id = d.org_id
WHERE d.learner_id IS NULL;
