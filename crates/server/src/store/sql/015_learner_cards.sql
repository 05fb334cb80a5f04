-- Slot 015, issue #17 item 3 (kiosk sign-in by card): every sign-in card issued to a learner.
-- The secret is the card's (32 random bytes, printed in its QR code); kiosks get only a verifier
-- of the current card (docs/credit.md, crates/protocol/src/card.rs). Issuing a new card marks
-- the previous one replaced; replaced cards are kept, so a card sign-in made before a kiosk could
-- have known of the replacement is still checked against the card it used.
CREATE TABLE learner_cards (
    learner_id   TEXT NOT NULL REFERENCES learners(id),
    org_id       TEXT NOT NULL REFERENCES orgs(id),
    serial       INTEGER NOT NULL,
    secret       BLOB NOT NULL,
    issued_ms    INTEGER NOT NULL,
    replaced_ms  INTEGER,
    PRIMARY KEY (learner_id, serial)
);
-- A new or replaced card changes what kiosks pull.
CREATE TRIGGER learner_cards_roster_insert AFTER INSERT ON learner_cards BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER learner_cards_roster_update AFTER UPDATE ON learner_cards BEGIN
    INSERT INTO roster_stamps (org_id, stamp) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET stamp = stamp + 1;
END;
