-- The classes a kiosk serves (issue #16): a kiosk's roster names only their learners and the
-- trainers who run them, so a copied kiosk database holds no other PIN verifier. A kiosk
-- enrollment code may name classes; redeeming it links them to the new device, and an
-- administrator may change a kiosk's classes later.
CREATE TABLE enrollment_code_classes (
    code_hash   BLOB NOT NULL REFERENCES enrollment_codes(hash),
    class_id    TEXT NOT NULL REFERENCES classes(id),
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    PRIMARY KEY (code_hash, class_id)
);
CREATE TABLE kiosk_classes (
    device_id   TEXT NOT NULL REFERENCES devices(id),
    class_id    TEXT NOT NULL REFERENCES classes(id),
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    PRIMARY KEY (device_id, class_id)
);
CREATE INDEX kiosk_classes_by_class ON kiosk_classes (class_id);
-- A kiosk's classes decide its roster: a change moves the organisation's roster stamp (008), so
-- the kiosk's classroom tag is computed again and the kiosk pulls its new roster.
CREATE TRIGGER kiosk_classes_roster_insert AFTER INSERT ON kiosk_classes BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER kiosk_classes_roster_update AFTER UPDATE ON kiosk_classes BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER kiosk_classes_roster_delete AFTER DELETE ON kiosk_classes BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (OLD.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;

-- Kiosks enrolled before this migration keep working: each is linked to every class of its
-- organisation (what its roster held before, less the people of no class). An administrator
-- narrows them with `hearth-server set-kiosk-classes`.
INSERT INTO kiosk_classes (device_id, class_id, org_id)
SELECT d.id, c.id, d.org_id FROM devices d JOIN classes c ON c.org_id = d.org_id
WHERE d.learner_id IS NULL;
