-- A counter per organisation that moves whenever what its devices pull besides receipts may
-- have changed (people, PINs, classes, assignments), kept by triggers so no code path can forget
-- it. The classroom tag a device checks every sync round is computed again only when it moved.
CREATE TABLE roster_stamps (
    org_id  TEXT PRIMARY KEY,
    stamp   INTEGER NOT NULL
);
CREATE TRIGGER learners_roster_insert AFTER INSERT ON learners BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER learners_roster_update AFTER UPDATE ON learners BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER learners_roster_delete AFTER DELETE ON learners BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (OLD.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER users_roster_insert AFTER INSERT ON users BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER users_roster_update AFTER UPDATE ON users BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER users_roster_delete AFTER DELETE ON users BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (OLD.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER classes_roster_insert AFTER INSERT ON classes BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER classes_roster_update AFTER UPDATE ON classes BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER classes_roster_delete AFTER DELETE ON classes BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (OLD.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER assignments_roster_insert AFTER INSERT ON assignments BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER assignments_roster_update AFTER UPDATE ON assignments BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER assignments_roster_delete AFTER DELETE ON assignments BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (OLD.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
