-- As sql/015_learner_cards.sql (issue #17 item 3): every sign-in card issued to a learner, the
-- replaced ones kept; a new or replaced card moves the roster stamp.
CREATE TABLE learner_cards (
    learner_id   UUID NOT NULL REFERENCES learners(id),
    org_id       UUID NOT NULL REFERENCES orgs(id),
    serial       BIGINT NOT NULL,
    secret       BYTEA NOT NULL,
    issued_ms    BIGINT NOT NULL,
    replaced_ms  BIGINT,
    PRIMARY KEY (learner_id, serial)
);
CREATE TRIGGER learner_cards_roster AFTER INSERT OR UPDATE OR DELETE ON learner_cards
    FOR EACH ROW EXECUTE FUNCTION bump_roster_stamp();
