-- Schema 8 (issue #17 item 3): the verifier of a roster learner's current sign-in card, as the
-- service's roster sends it (`hearth_protocol::card`). Never the card's secret: a copy of this
-- database cannot make a card sign-in that the service credits.
ALTER TABLE learners ADD COLUMN card_serial INTEGER;
ALTER TABLE learners ADD COLUMN card_verifier TEXT;
